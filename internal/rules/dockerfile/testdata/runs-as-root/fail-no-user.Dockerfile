FROM golang:1.26 AS build
USER 1000
RUN go build -o /app .

# expect
FROM scratch
COPY --from=build /app /app
