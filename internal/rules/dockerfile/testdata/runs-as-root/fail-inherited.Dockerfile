FROM debian:12 AS base
# expect
USER root

FROM base
RUN echo hi
