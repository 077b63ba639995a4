package receipts

import (
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io"
	"sort"
	"strings"
	texttemplate "text/template"
	"time"

	"lethe/tombstones"
)

// Format is a rendering of a receipt.
type Format string

// Formats.
const (
	FormatJSON     Format = "json" // the signed file itself
	FormatText     Format = "text"
	FormatMarkdown Format = "md"
	FormatHTML     Format = "html"
)

// ParseFormat parses a format name ("" is text).
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case "":
		return FormatText, nil
	case FormatJSON, FormatText, FormatMarkdown, FormatHTML:
		return f, nil
	case "markdown":
		return FormatMarkdown, nil
	}
	return "", fmt.Errorf("format %q: want json, text, md or html", s)
}

// Lang is the language of a rendering.
type Lang string

// Languages.
const (
	English Lang = "en"
	Swedish Lang = "sv"
)

// ParseLang parses "sv" or "en", also as a locale ("sv_SE.UTF-8").
func ParseLang(s string) (Lang, error) {
	l := strings.ToLower(strings.TrimSpace(s))
	switch {
	case l == "sv" || strings.HasPrefix(l, "sv_") || strings.HasPrefix(l, "sv-") || strings.HasPrefix(l, "sv."):
		return Swedish, nil
	case l == "en" || strings.HasPrefix(l, "en_") || strings.HasPrefix(l, "en-") || strings.HasPrefix(l, "en."):
		return English, nil
	}
	return "", fmt.Errorf("language %q: want sv or en", s)
}

// LangFromEnv picks the language from the locale variables getenv returns
// (LC_ALL, LC_MESSAGES, LANG, the first set): Swedish for a Swedish
// locale, English otherwise.
func LangFromEnv(getenv func(string) string) Lang {
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if s := getenv(v); s != "" {
			if l, err := ParseLang(s); err == nil {
				return l
			}
			return English
		}
	}
	return English
}

//go:embed templates
var templateFS embed.FS

var (
	textTemplates = texttemplate.Must(texttemplate.New("").Funcs(texttemplate.FuncMap{"md": mdEscape}).
			ParseFS(templateFS, "templates/receipt.txt", "templates/receipt.md"))
	htmlTemplate = htmltemplate.Must(htmltemplate.New("").ParseFS(templateFS, "templates/receipt.html"))
)

// Render writes r for a reader in format and lang.
func Render(w io.Writer, r Receipt, format Format, lang Lang) error {
	if format == FormatJSON {
		_, err := w.Write(r.File)
		return err
	}
	v := newView(r, lang)
	var err error
	switch format {
	case FormatText:
		err = textTemplates.ExecuteTemplate(w, "receipt.txt", v)
	case FormatMarkdown:
		err = textTemplates.ExecuteTemplate(w, "receipt.md", v)
	case FormatHTML:
		err = htmlTemplate.ExecuteTemplate(w, "receipt.html", v)
	default:
		return fmt.Errorf("rendering receipt: unknown format %q", format)
	}
	if err != nil {
		return fmt.Errorf("rendering receipt: %w", err)
	}
	return nil
}

// view is what the templates print: every fact already in words of the
// chosen language, so the formats differ only in layout.
type view struct {
	Lang     string
	T        map[string]string // labels
	Final    bool
	Title    string
	Status   string // the first thing a reader sees: final or interim
	Intro    string
	Business Business
	Contact  string

	Facts        []pair // request, dates, mode
	Identifiers  []string
	Repositories []repoView
	Holds        []holdView
	NoHolds      string
	Signature    []pair
}

type pair struct{ Label, Value string }

type repoView struct {
	Location  string
	Facts     []pair
	Snapshots []string
}

type holdView struct {
	Basis, Rule, Until, Records string
}

func newView(r Receipt, lang Lang) view {
	m := catalog[English]
	if c, ok := catalog[lang]; ok {
		m = c
	}
	f := r.Facts
	v := view{Lang: string(lang), T: m, Final: f.Final, Business: f.Business}
	if v.Lang == "" {
		v.Lang = string(English)
	}
	v.Title = m["title"]
	if f.Final {
		v.Status = m["status.final"]
		v.Intro = fmt.Sprintf(m["intro.final"], f.Business.Name)
	} else {
		v.Status = m["status.interim"]
		v.Intro = fmt.Sprintf(m["intro.interim"], f.Business.Name)
	}
	if f.Business.Contact != "" {
		v.Contact = fmt.Sprintf(m["contact"], f.Business.Name, f.Business.Contact)
	}
	completed := m["not.yet"]
	if f.Completed != nil {
		completed = day(*f.Completed)
	}
	noCopy := m["not.yet.known"]
	if f.NoCopyFrom != nil {
		noCopy = day(*f.NoCopyFrom)
	}
	v.Facts = []pair{
		{m["request"], f.RequestID},
		{m["received"], day(f.Received)},
		{m["deadline"], day(f.Deadline)},
		{m["completed"], completed},
		{m["mode"], m["mode."+string(f.Mode)]},
		{m["nocopy"], noCopy},
	}
	for _, id := range f.Identifiers {
		v.Identifiers = append(v.Identifiers, kindName(m, id.Kind)+": "+id.Masked)
	}
	for _, repo := range f.Repositories {
		rv := repoView{Location: repo.Location}
		state := m["state."+string(repo.State)]
		if repo.State == StateExpiring && repo.ExpiringUntil != nil {
			state = fmt.Sprintf(m["state.expiring.until"], day(*repo.ExpiringUntil))
		}
		counts := map[string]int{}
		for _, s := range repo.Snapshots {
			counts[s.Outcome]++
		}
		rv.Facts = []pair{
			{m["state"], state},
			{m["snapshots"], fmt.Sprintf(m["snapshots.counts"], len(repo.Snapshots), counts[SnapshotRewritten],
				counts[SnapshotRemoved], counts[SnapshotUnchanged], counts[SnapshotSealed])},
			{m["records"], records(m, repo.RecordsRemoved)},
			{m["files"], fmt.Sprintf(m["files.counts"], repo.FilesRedacted, repo.FilesDropped)},
			{m["bytes"], fmt.Sprintf(m["bytes.count"], repo.BytesRemoved)},
		}
		if vr := repo.Verification; vr != nil {
			rv.Facts = append(rv.Facts, pair{m["verification"], fmt.Sprintf(m["verification.done"],
				m["verify."+vr.Kind], m["result."+vr.Result], vr.FilesChecked, minute(vr.Time))})
		} else {
			rv.Facts = append(rv.Facts, pair{m["verification"], m["verification.none"]})
		}
		for _, s := range repo.Snapshots {
			line := s.Before + " " + m["outcome."+s.Outcome]
			if s.After != "" {
				line += " " + s.After
			}
			rv.Snapshots = append(rv.Snapshots, line)
		}
		v.Repositories = append(v.Repositories, rv)
	}
	for _, h := range f.Holds {
		v.Holds = append(v.Holds, holdView{Basis: h.Basis, Rule: h.Rule, Until: day(h.Until), Records: fmt.Sprintf(m["records.count"], h.Records)})
	}
	if len(f.Holds) == 0 {
		v.NoHolds = m["holds.none"]
	}
	v.Signature = []pair{
		{m["receipt"], f.ReceiptID},
		{m["issued"], minute(f.Issued)},
		{m["key"], r.Key},
	}
	return v
}

func day(t time.Time) string    { return t.UTC().Format("2006-01-02") }
func minute(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func kindName(m map[string]string, k tombstones.Kind) string {
	if k.IsCustom() {
		return k.CustomName()
	}
	if s, ok := m["kind."+string(k)]; ok {
		return s
	}
	return string(k)
}

func records(m map[string]string, per map[string]int64) string {
	if len(per) == 0 {
		return m["records.none"]
	}
	formats := make([]string, 0, len(per))
	for f := range per {
		formats = append(formats, f)
	}
	sort.Strings(formats)
	parts := make([]string, len(formats))
	for i, f := range formats {
		parts[i] = fmt.Sprintf("%s %d", f, per[f])
	}
	return strings.Join(parts, ", ")
}

// mdEscape escapes the characters Markdown would read as markup or as a
// table's cell border, so a business name or a legal basis prints as
// written.
func mdEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '#', '|':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
