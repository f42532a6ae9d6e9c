FROM alpine:3.20
ARG UID=10001
RUN adduser -D -u ${UID} app
USER ${UID}
