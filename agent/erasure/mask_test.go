package erasure

import "testing"

func TestPathMaskAsRedactor(t *testing.T) {
	red := testRedactor(t)
	m := NewPathMask(red.MaskPath)
	paths := []string{
		"", "/", "name", "/srv/data/inbox",
		"/var/mail/anna.svensson@example.se/cur/1.eml",
		"/var/mail/anna.svensson@example.se/cur/2.eml",
		"/var/mail/x/anna.svensson@example.se.eml",
		"/var/mail/anna.svensson@example.se/",
		"/srv/data/kunder/Anna Svensson/198001011231.pdf",
		"relative/anna.svensson@example.se",
	}
	// Twice: the second time from the remembered directories.
	for range 2 {
		for _, p := range paths {
			if got, want := m.Mask(p), red.MaskPath(p); got != want {
				t.Errorf("Mask(%q) = %q, want %q", p, got, want)
			}
		}
	}
	for i := range 2 * maxMaskedDirs {
		m.Mask("/d/" + string(rune('a'+i%26)) + string(rune(i)) + "/f")
	}
	if len(m.dirs) > maxMaskedDirs {
		t.Errorf("%d directories remembered", len(m.dirs))
	}
}
