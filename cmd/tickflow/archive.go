package main

import (
	"flag"
	"path/filepath"

	"github.com/tickflow/tickflow/archive"
)

// archiveFlags are the raw-archive flags of `tickflow run` (ADR 0010).
type archiveFlags struct {
	off     bool
	dir     string
	noGuard bool
}

func (a *archiveFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&a.off, "archive-off", false, "do not archive raw frames beyond Kafka retention (re-normalization then only reaches retained raw)")
	fs.StringVar(&a.dir, "archive-dir", "", "raw archive directory (default <data-dir>/archive)")
	fs.BoolVar(&a.noGuard, "archive-no-guard", false, "do not hold raw-topic retention back while the archive is behind (only alert: tickflow_archive_retention_headroom_seconds)")
}

// archiveDir returns the archive directory of a data dir.
func archiveDir(dataDir, flagDir string) string {
	if flagDir != "" {
		return flagDir
	}
	return filepath.Join(dataDir, "archive")
}

// archiver returns the archive stage of `tickflow run`, or nil when it is off.
func (p *pipeline) archiver(venues []string) (*archive.Archiver, error) {
	a := p.cfg.archive
	if a.off {
		return nil, nil
	}
	return archive.New(archive.Config{Dir: archiveDir(p.cfg.dataDir, a.dir), Brokers: p.brokers, Venues: venues,
		NoGuard: a.noGuard, Registerer: p.reg, Log: p.log.With("stage", "archive")})
}
