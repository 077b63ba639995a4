package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"lethe/agent/config"
	"lethe/agent/daemon"
)

type agentOptions struct {
	logFormat string
	logLevel  string
}

func newAgentCommand(g *globalOptions) *cobra.Command {
	var o agentOptions
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the agent: scheduled backups, erasures, the local API and metrics",
		Long: `Run the agent as configured in --config (default ` + config.DefaultPath + `).

The agent backs up every source into every repository on the backup
schedule, forgets and prunes by the retention policy, checks the
repositories, makes up runs missed while it was not running, and carries
out erasure requests in every repository until they are complete. It
serves the local API and metrics (docs/api.md) and, under systemd
(Type=notify), reports readiness, status and watchdog pings.

SIGTERM or SIGINT ends the running jobs cleanly (their locks are released,
nothing half-done is saved) and the agent exits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAgent(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.logFormat, "log-format", "auto", "log `format`: journal, json, text, or auto (journal under systemd, else text)")
	f.StringVar(&o.logLevel, "log-level", "info", "least `level` logged: debug, info, warn or error")
	return cmd
}

func runAgent(ctx context.Context, g *globalOptions, o agentOptions) error {
	log, err := agentLogger(g, o)
	if err != nil {
		return err
	}
	file := g.configFile
	if file == "" {
		file = config.DefaultPath
	}
	cfg, err := config.Load(file)
	if err != nil {
		return err
	}
	d, err := daemon.New(daemon.Options{Config: cfg, Log: log, Version: version, Eraser: daemon.NewEngine(cfg)})
	if err != nil {
		return err
	}
	return d.Run(ctx)
}

// agentLogger returns the agent's structured log on standard error, or
// in the journal.
func agentLogger(g *globalOptions, o agentOptions) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", o.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	format := o.logFormat
	if format == "auto" {
		format = "text"
		if daemon.UnderJournal() {
			format = "journal"
		}
	}
	switch format {
	case "journal":
		return slog.New(daemon.JournalHandler(level)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(g.stderr, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(g.stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want auto, journal, json or text", o.logFormat)
}
