// Command modapp is built by the govulncheck cross-check against old,
// vulnerable golang.org/x/net, golang.org/x/crypto and golang.org/x/text:
// it calls some of their vulnerable functions (html.Parse, ssh's server
// handshake, language.Parse) and links other vulnerable packages
// without calling the vulnerable functions.
package main

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/net/html"
	"golang.org/x/net/http2"
	"golang.org/x/text/language"
)

func main() {
	arg := os.Args[len(os.Args)-1]
	doc, err := html.Parse(strings.NewReader(arg))
	fmt.Println(doc != nil, err)
	tag, err := language.Parse(arg)
	fmt.Println(tag, err)
	cfg := &ssh.ServerConfig{NoClientAuth: true}
	fmt.Println(cfg.NoClientAuth, http2.ErrCodeNo)
	if len(os.Args) > 2 {
		_, _, _, err := ssh.NewServerConn(nil, cfg)
		fmt.Println(err)
	}
}
