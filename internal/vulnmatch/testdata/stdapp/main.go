// Command stdapp is built by the govulncheck cross-check: it calls
// standard library functions that many Go vulnerability records name
// (net/http, crypto/x509, archive/zip, net/mail, html/template,
// encoding/pem, mime/multipart, net/url, path/filepath, os/exec,
// crypto/tls, encoding/json, encoding/xml), so that a build stamped
// with an old Go release has many findings at symbol level, and imports
// others without calling their vulnerable functions.
package main

import (
	"archive/zip"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"html/template"
	"mime/multipart"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
)

func main() {
	arg := os.Args[len(os.Args)-1]
	if b, _ := pem.Decode([]byte(arg)); b != nil {
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			_, err = c.Verify(x509.VerifyOptions{})
			fmt.Println(err)
		}
	}
	if z, err := zip.OpenReader(arg); err == nil {
		fmt.Println(len(z.File))
		z.Close()
	}
	if m, err := mail.ReadMessage(bytes.NewReader([]byte(arg))); err == nil {
		fmt.Println(mail.ParseAddressList(m.Header.Get("To")))
	}
	if u, err := url.Parse(arg); err == nil {
		fmt.Println(u.Query(), filepath.Clean(u.Path))
	}
	var v any
	fmt.Println(json.Unmarshal([]byte(arg), &v), xml.Unmarshal([]byte(arg), &v))
	r := multipart.NewReader(bytes.NewReader([]byte(arg)), "b")
	if f, err := r.ReadForm(1 << 20); err == nil {
		fmt.Println(len(f.Value))
	}
	t := template.Must(template.New("t").Parse(`<a href="{{.}}">x</a>`))
	fmt.Println(t.Execute(os.Stdout, arg))
	fmt.Println(exec.LookPath(arg))
	srv := &http.Server{Addr: "127.0.0.1:0", TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, r.URL.Path)
	})
	if len(os.Args) > 2 {
		fmt.Println(srv.ListenAndServe())
		resp, err := http.Get(arg)
		if err == nil {
			resp.Body.Close()
		}
	}
}
