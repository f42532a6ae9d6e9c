FROM alpine:3.20
ARG RUN_AS=root
# expect
USER ${RUN_AS}
