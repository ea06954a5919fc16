package md

import "unsafe"

// unsafeBytes views s as a byte slice without copying. The result must not be modified.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
