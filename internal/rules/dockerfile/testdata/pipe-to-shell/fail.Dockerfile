FROM debian:12
# expect
RUN curl -fsSL https://example.com/install.sh | sh
# expect
RUN apt-get update && \
    wget -qO- https://example.com/setup | sudo -E bash -
# expect
RUN sh -c "$(curl -fsSL https://example.com/install.sh)"
# expect
RUN bash <(curl -s https://example.com/i.sh)
# expect
RUN curl https://bootstrap.example.com/get-pip.py | python3
# expect
RUN <<EOT
set -e
curl -fsSL https://example.com/install.sh \
  | /bin/bash
EOT
# expect
ONBUILD RUN curl -sL https://example.com/setup | bash
USER 1000
