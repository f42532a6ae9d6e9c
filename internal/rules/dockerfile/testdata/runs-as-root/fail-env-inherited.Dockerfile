FROM alpine:3.20 AS base
ENV APP_UID=0

FROM base
RUN echo hi
# expect
USER $APP_UID
