ARG ALPINE=alpine:3.20
# expect
FROM golang:1.26-alpine AS build
RUN go build -o /app .

# expect
FROM --platform=$BUILDPLATFORM $ALPINE
COPY --from=build /app /app
USER 65532:65532
