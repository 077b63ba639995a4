package receipts

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"html"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var allFormats = []Format{FormatJSON, FormatText, FormatMarkdown, FormatHTML}

func render(t *testing.T, r Receipt, f Format, l Lang) string {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, r, f, l); err != nil {
		t.Fatalf("%s %s: %v", f, l, err)
	}
	return b.String()
}

// expectedFacts lists what every rendering of r must show, as it shows it.
func expectedFacts(r Receipt) []string {
	f := r.Facts
	want := []string{f.RequestID, f.ReceiptID, f.Business.Name, f.Business.Contact,
		day(f.Received), day(f.Deadline), day(*f.Completed), r.Key}
	for _, id := range f.Identifiers {
		want = append(want, id.Masked)
	}
	for _, repo := range f.Repositories {
		want = append(want, repo.Location, fmt.Sprint(repo.BytesRemoved), fmt.Sprint(repo.Verification.FilesChecked))
		for format, n := range repo.RecordsRemoved {
			want = append(want, format, fmt.Sprint(n))
		}
		for _, s := range repo.Snapshots {
			want = append(want, s.Before)
			if s.After != "" {
				want = append(want, s.After)
			}
		}
	}
	for _, h := range f.Holds {
		want = append(want, h.Basis, h.Rule, day(h.Until), fmt.Sprint(h.Records))
	}
	return want
}

// TestRenderSameFacts: JSON, text, Markdown and HTML, in both languages,
// hold the same facts, and none holds any form of the subject.
func TestRenderSameFacts(t *testing.T) {
	r, _ := signed(t)
	for _, l := range []Lang{English, Swedish} {
		for _, f := range allFormats {
			out := render(t, r, f, l)
			text := out
			if f == FormatHTML {
				text = html.UnescapeString(out)
			}
			for _, want := range expectedFacts(r) {
				if f == FormatJSON {
					// JSON holds dates as timestamps.
					if strings.Count(want, "-") == 2 && len(want) == 10 {
						want += "T"
					}
				}
				if !strings.Contains(text, want) && (f != FormatMarkdown || !strings.Contains(text, mdEscape(want))) {
					t.Errorf("%s %s lacks %q", f, l, want)
				}
			}
			grepForms(t, fmt.Sprintf("%s %s rendering", f, l), []byte(out))
		}
	}
	en, sv := render(t, r, FormatText, English), render(t, r, FormatText, Swedish)
	for _, w := range []string{"Erasure receipt", "FINAL", "Received", "Deadline"} {
		if !strings.Contains(en, w) || strings.Contains(sv, w) {
			t.Errorf("English word %q", w)
		}
	}
	for _, w := range []string{"Kvitto på radering", "SLUTLIGT", "Mottagen", "Sista dag", "Personnummer", "Rättslig grund"} {
		if !strings.Contains(sv, w) {
			t.Errorf("Swedish text lacks %q", w)
		}
	}
}

func TestRenderInterimIsMarked(t *testing.T) {
	ts := recordSubject(t, t.TempDir())
	f := factsFor(ts)
	f.Final, f.Completed, f.NoCopyFrom = false, nil, nil
	f.Repositories[1].State, f.Repositories[1].Verification = StatePending, nil
	r, err := Sign(f, testKey(t))
	if err != nil {
		t.Fatal(err)
	}
	for l, marks := range map[Lang][]string{English: {"INTERIM STATUS, NOT FINAL", "in progress"}, Swedish: {"PRELIMINÄR STATUS, INTE SLUTLIG", "pågår"}} {
		for _, format := range []Format{FormatText, FormatMarkdown, FormatHTML} {
			out := render(t, r, format, l)
			for _, m := range marks {
				if !strings.Contains(out, m) {
					t.Errorf("%s %s lacks %q", format, l, m)
				}
			}
			if strings.Contains(out, catalog[l]["status.final"]) {
				t.Errorf("%s %s: interim says final", format, l)
			}
		}
	}
	if !strings.Contains(render(t, r, FormatHTML, English), `class="status interim"`) {
		t.Error("html interim status not styled apart")
	}
}

func TestCatalogComplete(t *testing.T) {
	for l, m := range catalog {
		for k := range catalog[English] {
			if m[k] == "" {
				t.Errorf("%s lacks %q", l, k)
			}
		}
		if len(m) != len(catalog[English]) {
			t.Errorf("%s has %d keys, English %d", l, len(m), len(catalog[English]))
		}
	}
}

func TestParseLangAndFormat(t *testing.T) {
	for in, want := range map[string]Lang{"sv": Swedish, "sv_SE.UTF-8": Swedish, "EN": English, "en_GB.utf8": English} {
		if got, err := ParseLang(in); err != nil || got != want {
			t.Errorf("ParseLang(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseLang("de"); err == nil {
		t.Error("de accepted")
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if LangFromEnv(env(map[string]string{"LANG": "sv_SE.UTF-8"})) != Swedish ||
		LangFromEnv(env(map[string]string{"LC_ALL": "C", "LANG": "sv_SE.UTF-8"})) != English ||
		LangFromEnv(env(nil)) != English {
		t.Error("LangFromEnv")
	}
	for in, want := range map[string]Format{"": FormatText, "md": FormatMarkdown, "markdown": FormatMarkdown, "HTML": FormatHTML, "json": FormatJSON} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %v, %v", in, got, err)
		}
	}
}

// TestRenderJSONIsTheSignedFile: the JSON rendering verifies.
func TestRenderJSONIsTheSignedFile(t *testing.T) {
	r, key := signed(t)
	out := render(t, r, FormatJSON, English)
	if _, err := Verify([]byte(out), key.Public().(ed25519.PublicKey)); err != nil {
		t.Error(err)
	}
	var v map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v) != 3 {
		t.Errorf("json: %v %d", err, len(v))
	}
}

// chromium returns the headless browser the HTML test runs in. In CI a
// missing browser is a failure.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed (.ci/test.sh installs it)")
	}
	t.Skip("chromium is not installed")
	return ""
}

func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(bin, append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-dev-shm-usage", "--user-data-dir=" + filepath.Join(home, "profile")}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.Bytes())
	}
	return out
}

// TestHTMLInBrowser renders the HTML receipt in headless chromium: the
// DOM it builds holds the facts, and it paints an A4 page.
func TestHTMLInBrowser(t *testing.T) {
	bin := chromium(t)
	r, _ := signed(t)
	dir := t.TempDir()
	for _, l := range []Lang{English, Swedish} {
		page := filepath.Join(dir, "receipt-"+string(l)+".html")
		if err := os.WriteFile(page, []byte(render(t, r, FormatHTML, l)), 0o600); err != nil {
			t.Fatal(err)
		}
		dom := html.UnescapeString(string(runChromium(t, bin, "--dump-dom", "file://"+page)))
		if !strings.Contains(dom, `<html lang="`+string(l)+`">`) || !strings.Contains(dom, "</body>") {
			t.Fatalf("%s: not a rendered page: %.200s", l, dom)
		}
		for _, want := range expectedFacts(r) {
			if !strings.Contains(dom, want) {
				t.Errorf("%s: the browser's DOM lacks %q", l, want)
			}
		}
		grepForms(t, "browser DOM", []byte(dom))

		png := filepath.Join(dir, "receipt-"+string(l)+".png")
		runChromium(t, bin, "--hide-scrollbars", "--window-size=794,1123", "--screenshot="+png, "file://"+page)
		checkScreenshot(t, png)
		if l == Swedish { // the longer text
			pdf := filepath.Join(dir, "receipt-"+string(l)+".pdf")
			runChromium(t, bin, "--no-pdf-header-footer", "--print-to-pdf="+pdf, "file://"+page)
			checkPDF(t, pdf)
		}
		if dst := os.Getenv("LETHE_RECEIPT_SCREENSHOT"); dst != "" && l == Swedish {
			data, _ := os.ReadFile(png)
			if err := os.WriteFile(dst, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// checkScreenshot checks that the browser painted a page of the window's
// size with text on it: dark pixels in a good share of its rows.
func checkScreenshot(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	b := img.Bounds()
	if b.Dx() != 794 || b.Dy() != 1123 {
		t.Errorf("screenshot is %dx%d, want 794x1123", b.Dx(), b.Dy())
	}
	inked := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r+g+bl < 3*0x8000 {
				inked++
				break
			}
		}
	}
	if inked < b.Dy()/5 {
		t.Errorf("screenshot: text on %d of %d rows", inked, b.Dy())
	}
}

// checkPDF checks that printing gives A4 pages (595 x 842 points).
func checkPDF(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %.20q", data)
	}
	m := regexp.MustCompile(`/MediaBox\s*\[\s*0\s+0\s+([0-9.]+)\s+([0-9.]+)\s*\]`).FindAllSubmatch(data, -1)
	if len(m) == 0 {
		t.Fatal("PDF without a MediaBox")
	}
	for _, box := range m {
		w, _ := strconv.ParseFloat(string(box[1]), 64)
		h, _ := strconv.ParseFloat(string(box[2]), 64)
		if math.Abs(w-595.3) > 1.5 || math.Abs(h-841.9) > 1.5 {
			t.Errorf("PDF page %sx%s points, want A4", box[1], box[2])
		}
	}
	if len(m) > 3 {
		t.Errorf("the receipt prints on %d pages", len(m))
	}
}

// TestExpireReceipt: in expire mode a receipt is final once every
// repository is expiring, and says when the last sealed copy ages out.
func TestExpireReceipt(t *testing.T) {
	ts := recordSubject(t, t.TempDir())
	f := factsFor(ts)
	until := testNow.AddDate(0, 3, 0)
	f.Mode, f.NoCopyFrom = "expire", &until
	for i := range f.Repositories {
		r := &f.Repositories[i]
		r.State, r.ExpiringUntil = StateExpiring, &until
		r.Snapshots = []Snapshot{{Before: "4f2a9c1d7e3b5a60", Outcome: SnapshotSealed}}
		r.RecordsRemoved, r.FilesRedacted, r.FilesDropped, r.BytesRemoved = nil, 0, 0, 0
	}
	key := testKey(t)
	r, err := Sign(f, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(r.File, key.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	for l, want := range map[Lang]string{English: "the last sealed copy ages out on " + day(until), Swedish: "den sista förseglade kopian gallras " + day(until)} {
		if out := render(t, r, FormatText, l); !strings.Contains(out, want) || !strings.Contains(out, catalog[l]["status.final"]) {
			t.Errorf("%s:\n%s", l, out)
		}
	}
}

func TestMarkdownEscapes(t *testing.T) {
	ts := recordSubject(t, t.TempDir())
	f := factsFor(ts)
	f.Business.Name = "A|B *Bolag* [AB]"
	r, err := Sign(f, testKey(t))
	if err != nil {
		t.Fatal(err)
	}
	out := render(t, r, FormatMarkdown, English)
	if !strings.Contains(out, `A\|B \*Bolag\* \[AB\]`) || strings.Contains(out, "A|B") {
		t.Errorf("markdown does not escape the business name:\n%s", out)
	}
}
