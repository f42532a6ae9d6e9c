module example.com/modapp

go 1.22

require (
	golang.org/x/crypto v0.1.0
	golang.org/x/net v0.7.0
	golang.org/x/text v0.7.0
)

require golang.org/x/sys v0.5.0 // indirect
