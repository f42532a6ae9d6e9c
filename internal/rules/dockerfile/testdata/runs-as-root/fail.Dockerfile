FROM alpine:3.20 AS build
USER 1000

FROM alpine:3.20
RUN adduser -D -u 10001 app
USER app
# expect
USER 0:0
