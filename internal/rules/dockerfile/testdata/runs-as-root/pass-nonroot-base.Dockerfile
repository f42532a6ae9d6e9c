FROM golang:1.26 AS build
RUN go build -o /app .

# distroless :nonroot images set USER 65532 themselves.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /app /app
