// Package linux_amd64 holds libgraveyard_c.a for linux/amd64 (see the parent package).
package linux_amd64
