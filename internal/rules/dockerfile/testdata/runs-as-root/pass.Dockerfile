FROM alpine:3.20 AS build
USER root
RUN apk add --no-cache build-base

FROM alpine:3.20 AS base
RUN adduser -D -u 10001 app
USER 10001:10001

# The final stage inherits the user of the stage it builds on.
FROM base
USER root
RUN echo privileged step
USER 10001
