FROM alpine:3.20
# expect
ADD https://example.com/tool.tar.gz /tmp/
# expect
ADD ["http://example.com/a", "/a"]
# expect
ADD git@github.com:moby/buildkit.git#v0.34.2 /src
# expect
ONBUILD ADD https://example.com/plugin.jar /plugins/
USER 1000
