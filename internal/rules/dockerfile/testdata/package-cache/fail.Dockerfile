FROM debian:12 AS base
# expect
RUN apt-get update && apt-get install -y curl

FROM base
# expect
RUN apk add curl
# expect
RUN pip3 install --user -r requirements.txt
# expect
RUN yum -y install tar
# expect
RUN npm install --omit=dev
# expect
RUN <<EOF
apt-get update
apt-get install -y jq
EOF
USER 1000
