FROM debian:12
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
RUN echo "pseudo sudoers text" > /tmp/note
USER 1000
