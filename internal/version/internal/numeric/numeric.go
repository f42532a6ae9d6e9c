// Package numeric holds helpers shared by the version parsers.
package numeric

// MaxLen bounds the length of any version string the parsers accept. Real
// package versions are far shorter; the bound keeps work and allocation
// proportional to a small constant on hostile input.
const MaxLen = 1024

// Compare orders two strings of ASCII decimal digits by numeric value without
// converting them, so arbitrarily long numbers never overflow. Leading zeros
// are ignored; the empty string counts as zero.
func Compare(a, b string) int {
	a = TrimZeros(a)
	b = TrimZeros(b)
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return Strcmp(a, b)
}

// TrimZeros removes leading '0' bytes.
func TrimZeros(s string) string {
	i := 0
	for i < len(s) && s[i] == '0' {
		i++
	}
	return s[i:]
}

// Strcmp is a byte-wise three-way comparison, like C's strcmp on the same
// bytes, reduced to -1, 0 or 1.
func Strcmp(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// IsDigit reports whether c is an ASCII decimal digit.
func IsDigit(c byte) bool { return '0' <= c && c <= '9' }

// IsAlpha reports whether c is an ASCII letter.
func IsAlpha(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }

// AllDigits reports whether s is non-empty and made only of ASCII digits.
func AllDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !IsDigit(s[i]) {
			return false
		}
	}
	return true
}

// Sign reduces an int to -1, 0 or 1.
func Sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
