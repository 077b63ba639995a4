package local_test

import (
	"testing"

	"lethe/backends"
	"lethe/backends/backendtest"
	"lethe/backends/local"
)

func TestBackend(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		be, err := local.Create(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return be
	})
}
