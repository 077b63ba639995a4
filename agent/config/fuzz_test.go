package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lethe/agent/config"
)

// FuzzParse: no input makes Parse panic, and every error it returns
// names the file.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile(filepath.Join("..", "..", "configs", "lethe.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(example))
	f.Add(minimal)
	f.Add(withBase("schedules:\n  backup: CRON_TZ=Europe/Stockholm\n"))
	f.Add(withBase("holds:\n  - name: h\n    paths: [a]\n    basis: b\n    duration: 1y\n"))
	f.Fuzz(func(t *testing.T, text string) {
		c, err := config.Parse("f.yaml", []byte(text))
		if err == nil {
			if c == nil {
				t.Fatal("no config and no error")
			}
			return
		}
		if c != nil {
			t.Fatal("a config and an error")
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if !strings.HasPrefix(line, "f.yaml:") {
				t.Fatalf("error line %q does not name the file", line)
			}
		}
	})
}
