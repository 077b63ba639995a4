package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const exampleConfig = "../../configs/lethe.yaml"

func TestConfigCheckExample(t *testing.T) {
	t.Setenv("LETHE_CONFIG", "")
	out, errOut, code := lethe(t, "config", "check", "--config", exampleConfig)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^\.\./\.\./configs/lethe\.yaml: OK$`),
		regexp.MustCompile(`(?m)^repositories:\n  local +/var/backups/lethe\n  offsite +s3:s3\.eu-north-1\.amazonaws\.com/exempel-backup/lethe$`),
		regexp.MustCompile(`(?m)^sources:\n  files +/srv/data, /home \(3 excludes\)\n  shop-db +pg_dump \(2 arguments\) > shop\.sql$`),
		regexp.MustCompile(`(?m)^  backup +0 2 \* \* \* +next \d{4}-\d\d-\d\d 02:00 \S+$`),
		regexp.MustCompile(`(?m)^  forget +after-backup$`),
		regexp.MustCompile(`(?m)^  check +0 4 \* \* 0 +next \d{4}-\d\d-\d\d 04:00 \S+$`),
		regexp.MustCompile(`(?m)^  verify +0 5 \* \* 0 +next \d{4}-\d\d-\d\d 05:00 \S+$`),
		regexp.MustCompile(`(?m)^retention: keep-daily 7, prune after forget$`),
		regexp.MustCompile(`(?m)^  bookkeeping: Bokföringslagen \(1999:1078\) 7 kap\. 2 §, for 7y$`),
	} {
		if !want.MatchString(out) {
			t.Errorf("output does not match %s:\n%s", want, out)
		}
	}
	// A command's arguments may carry a password; the summary does not
	// show them.
	if strings.Contains(out, "-Fp") {
		t.Errorf("the summary shows a command's arguments:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasSuffix(line, " ") {
			t.Errorf("trailing space in %q", line)
		}
	}
}

func TestConfigCheckNextRun(t *testing.T) {
	now := time.Date(2025, 3, 4, 10, 0, 0, 0, time.Local)
	var out strings.Builder
	g := &globalOptions{stdout: &out, stderr: &out}
	if err := runConfigCheck(g, exampleConfig, now); err != nil {
		t.Fatal(err)
	}
	next := time.Date(2025, 3, 5, 2, 0, 0, 0, time.Local).Format("2006-01-02 15:04 MST")
	if !strings.Contains(out.String(), "next "+next+"\n") {
		t.Errorf("want the backup's next run %s:\n%s", next, out.String())
	}
}

func TestConfigCheckErrors(t *testing.T) {
	t.Setenv("LETHE_CONFIG", "")
	file := filepath.Join(t.TempDir(), "lethe.yaml")
	text := `business:
  name: Exempel AB
sources:
  - name: files
    paths: [/srv/data]
    exclud: ["*.tmp"]
repositories:
  - name: local
    location: /var/backups/lethe
    password-file: /etc/lethe/password
schedules:
  backup: "0 25 * * *"
`
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := lethe(t, "config", "check", "--config", file)
	if code != exitError {
		t.Errorf("exit %d, want %d", code, exitError)
	}
	if out != "" {
		t.Errorf("stdout %q, want nothing", out)
	}
	want := file + `:1: business.contact: missing
` + file + `:6: sources[0].exclud: unknown key (did you mean exclude?)
` + file + `:12: schedules.backup: want a cron expression: end of range (25) above maximum (23): 25
lethe: ` + file + `: 3 problems
`
	if errOut != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", errOut, want)
	}
}

func TestConfigCheckFromEnv(t *testing.T) {
	t.Setenv("LETHE_CONFIG", exampleConfig)
	out, errOut, code := lethe(t, "config", "check")
	if code != 0 || !strings.HasPrefix(out, exampleConfig+": OK\n") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	missing := filepath.Join(t.TempDir(), "none.yaml")
	t.Setenv("LETHE_CONFIG", missing)
	out, errOut, code = lethe(t, "config", "check")
	if code != exitError || out != "" || !strings.Contains(errOut, "reading config") || !strings.Contains(errOut, missing) {
		t.Errorf("missing file: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

func TestConfigCheckJSON(t *testing.T) {
	out, errOut, code := lethe(t, "config", "check", "--json", "--config", exampleConfig)
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, errOut)
	}
	var got struct {
		File         string `json:"file"`
		Repositories []struct {
			Name, Location string
		} `json:"repositories"`
		Sources []struct {
			Name, Program, Filename string
			Paths                   []string
		} `json:"sources"`
		Schedules map[string]struct {
			Spec string     `json:"spec"`
			Next *time.Time `json:"next"`
		} `json:"schedules"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got.File != exampleConfig || len(got.Repositories) != 2 || got.Repositories[1].Name != "offsite" ||
		len(got.Sources) != 2 || got.Sources[1].Program != "pg_dump" || got.Sources[1].Filename != "shop.sql" {
		t.Errorf("summary %+v", got)
	}
	if b := got.Schedules["backup"]; b.Spec != "0 2 * * *" || b.Next == nil || b.Next.Hour() != 2 {
		t.Errorf("backup schedule %+v", b)
	}
	if f := got.Schedules["forget"]; f.Spec != "after-backup" || f.Next != nil {
		t.Errorf("forget schedule %+v", f)
	}
}

func TestConfigCheckQuiet(t *testing.T) {
	out, errOut, code := lethe(t, "config", "check", "--quiet", "--config", exampleConfig)
	if code != 0 || out != "" || errOut != "" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
