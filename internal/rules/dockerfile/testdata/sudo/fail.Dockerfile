FROM debian:12
USER 1000
# expect
RUN sudo apt-get update
# expect
RUN set -e; sudo -u app touch /tmp/x
# expect
RUN ["sudo", "make", "install"]
