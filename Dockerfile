# Static processor binary in a minimal, non-root image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /processor ./cmd/processor

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /processor /processor
USER nonroot
EXPOSE 8080
ENTRYPOINT ["/processor"]
