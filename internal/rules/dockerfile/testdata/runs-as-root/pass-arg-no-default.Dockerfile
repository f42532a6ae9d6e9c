# A USER whose value only exists at build time (no default) is not judged.
FROM alpine:3.20
ARG RUN_AS
USER ${RUN_AS}
