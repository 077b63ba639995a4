package jobs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadPassword(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct{ content, want string }{
		{"secret\n", "secret"},
		{"secret\r\n", "secret"},
		{"secret\n\n", "secret"},
		{"secret", "secret"},
		// Only line ends go: spaces are part of the password.
		{" two words \n", " two words "},
		{"first\nsecond\n", "first\nsecond"},
	} {
		p := write("pw", c.content)
		got, err := ReadPassword(p, "from the environment")
		if err != nil || got != c.want {
			t.Errorf("file %q: %q, %v; want %q", c.content, got, err, c.want)
		}
	}

	if got, err := ReadPassword("", "from the environment"); err != nil || got != "from the environment" {
		t.Errorf("value alone: %q, %v", got, err)
	}
	if _, err := ReadPassword("", ""); !errors.Is(err, ErrNoPassword) {
		t.Errorf("neither file nor value: %v, want ErrNoPassword", err)
	}
	for _, content := range []string{"", "\n", "\r\n\n"} {
		p := write("empty", content)
		_, err := ReadPassword(p, "from the environment")
		if err == nil || err.Error() != "password file "+p+" is empty" {
			t.Errorf("file %q: %v, want it refused as empty, named", content, err)
		}
	}
	missing := filepath.Join(dir, "missing")
	_, err := ReadPassword(missing, "from the environment")
	if err == nil || !strings.HasPrefix(err.Error(), "reading password file: ") || !strings.Contains(err.Error(), missing) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
