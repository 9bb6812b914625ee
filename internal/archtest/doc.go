// Package archtest holds no code, only the tests that pin the module's
// dependency direction (docs/DESIGN.md, Package map): numerics at the
// bottom, the integer runtime free of training code, nothing under
// internal/ importing a public package above it.
package archtest
