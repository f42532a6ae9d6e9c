ARG GO_IMAGE=golang:1.26-alpine@sha256:0000000000000000000000000000000000000000000000000000000000000001
ARG RUNTIME
FROM ${GO_IMAGE} AS build
RUN go build -o /app .

# An earlier stage is not an image to pin.
FROM build AS test
RUN go test ./...

# The image comes from an ARG without a default: not judged.
FROM ${RUNTIME} AS custom

FROM scratch
COPY --from=build /app /app
USER 65532:65532
