package archiver

import (
	"context"
	"io/fs"
	"path/filepath"
)

// scan counts what the backup will cover so that progress can show a
// total and an ETA. It runs beside the backup and stops when ctx ends.
func scan(ctx context.Context, targets []string, excludes []string, p Progress) {
	var files, dirs, bytes uint64
	n := 0
	for _, t := range targets {
		err := filepath.WalkDir(t, func(path string, d fs.DirEntry, err error) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				return nil
			}
			if path != t && excluded(excludes, path) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			switch {
			case d.IsDir():
				dirs++
			case d.Type().IsRegular():
				files++
				if fi, err := d.Info(); err == nil {
					bytes += uint64(fi.Size())
				}
			}
			if n++; n%1000 == 0 {
				p.Total(files, dirs, bytes, false)
			}
			return nil
		})
		if err != nil {
			return
		}
	}
	p.Total(files, dirs, bytes, true)
}
