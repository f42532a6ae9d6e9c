package pss

import "fmt"

func fmtSscanf(name string, minor *int) (int, error) {
	return fmt.Sscanf(name, "v1.%d", minor)
}
