// Package local is a module replaced by a local directory.
package local

// Name is printed by the fixture binary.
const Name = "palisade"
