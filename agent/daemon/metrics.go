package daemon

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the daemon's Prometheus metrics. Labels are job kinds and
// configured repository names only: never an identifier, a path or a
// snapshot ID.
type metrics struct {
	reg *prometheus.Registry

	backupLastSuccess  *prometheus.GaugeVec
	backupLastDuration *prometheus.GaugeVec
	backupAdded        *prometheus.CounterVec
	keptOut            *prometheus.CounterVec
	unreadable         *prometheus.CounterVec
	snapshots          *prometheus.GaugeVec
	windowComplete     *prometheus.GaugeVec
	windowMissing      *prometheus.GaugeVec
	checkOK            *prometheus.GaugeVec
	checkTime          *prometheus.GaugeVec
	jobFailures        *prometheus.CounterVec
	deepVerifyOK       *prometheus.GaugeVec
	deepVerifyTime     *prometheus.GaugeVec
	deepVerifyFindings *prometheus.GaugeVec

	erasuresPending   prometheus.Gauge
	erasuresOverdue   prometheus.Gauge
	erasuresAtRisk    prometheus.Gauge
	erasuresOldestAge prometheus.Gauge
}

func newMetrics(d *Daemon) *metrics {
	repo := []string{"repository"}
	m := &metrics{
		reg: prometheus.NewRegistry(),
		backupLastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lethe_backup_last_success_timestamp_seconds",
			Help: "When the last successful backup into the repository ended (Unix time).",
		}, repo),
		backupLastDuration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lethe_backup_last_duration_seconds",
			Help: "How long the last successful backup into the repository took.",
		}, repo),
		backupAdded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lethe_backup_added_bytes_total",
			Help: "Bytes backups added to the repository (stored size).",
		}, repo),
		keptOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lethe_backup_kept_out_records_total",
			Help: "Records of erased subjects that backups kept out: the live source still holds them.",
		}, repo),
		unreadable: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lethe_backup_unreadable_items_total",
			Help: "Items backups left out because they could not be read.",
		}, repo),
		snapshots: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lethe_snapshots",
			Help: "Snapshots in the repository.",
		}, repo),
		windowComplete: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lethe_window_complete",
			Help: "1 when the repository holds a snapshot of every source for each of the last seven days, else 0.",
		}, repo),
		windowMissing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lethe_window_missing_days",
			Help: "Days of the last seven without a snapshot of every source.",
		}, repo),
		checkOK: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lethe_check_last_success",
			Help: "1 when the last check (job=check) or verification (job=verify) of the repository found it sound, else 0.",
		}, []string{"repository", "job"}),
		checkTime: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lethe_check_last_timestamp_seconds",
			Help: "When the last check or verification of the repository ended (Unix time).",
		}, []string{"repository", "job"}),
		jobFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lethe_job_failures_total",
			Help: "Failed job runs (each retry counts).",
		}, []string{"job", "repository"}),
		deepVerifyOK: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lethe_erasure_deep_verify_ok",
			Help: "1 when the last deep verification of the erasures in the repository found nothing of their subjects, else 0.",
		}, repo),
		deepVerifyTime: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lethe_erasure_deep_verify_last_timestamp_seconds",
			Help: "When the last deep verification of the erasures in the repository ended (Unix time).",
		}, repo),
		deepVerifyFindings: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lethe_erasure_deep_verify_findings",
			Help: "Files the last deep verification found still holding an erased subject outside a hold.",
		}, repo),
		erasuresPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lethe_erasures_pending",
			Help: "Erasure requests not yet complete in every repository.",
		}),
		erasuresOverdue: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lethe_erasures_overdue",
			Help: "Pending erasure requests past their deadline.",
		}),
		erasuresAtRisk: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lethe_erasures_at_risk",
			Help: "Pending erasure requests close to their deadline.",
		}),
		erasuresOldestAge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lethe_erasures_oldest_pending_age_seconds",
			Help: "Age of the oldest pending erasure request; 0 when none is pending.",
		}),
	}
	m.reg.MustRegister(m.backupLastSuccess, m.backupLastDuration, m.backupAdded, m.keptOut, m.unreadable,
		m.snapshots, m.windowComplete, m.windowMissing, m.checkOK, m.checkTime, m.jobFailures,
		m.deepVerifyOK, m.deepVerifyTime, m.deepVerifyFindings,
		m.erasuresPending, m.erasuresOverdue, m.erasuresAtRisk, m.erasuresOldestAge,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Every repository shows up from the start, so that a repository
	// never backed up is visible as such.
	for _, r := range d.repos {
		m.backupAdded.WithLabelValues(r.Name)
		m.keptOut.WithLabelValues(r.Name)
		m.unreadable.WithLabelValues(r.Name)
		m.windowComplete.WithLabelValues(r.Name)
		for _, k := range []Kind{KindBackup, KindForget, KindCheck, KindVerify, KindErase} {
			m.jobFailures.WithLabelValues(string(k), r.Name)
		}
	}
	return m
}

func (m *metrics) backupDone(repo string, rep BackupReport, err error, start, end time.Time) {
	m.backupAdded.WithLabelValues(repo).Add(float64(rep.BytesAdded))
	m.keptOut.WithLabelValues(repo).Add(float64(rep.KeptOut))
	m.unreadable.WithLabelValues(repo).Add(float64(rep.Unreadable))
	if err == nil {
		m.backupLastSuccess.WithLabelValues(repo).Set(float64(end.Unix()))
		m.backupLastDuration.WithLabelValues(repo).Set(end.Sub(start).Seconds())
	}
}

func (m *metrics) checkDone(repo string, kind Kind, err error, end time.Time) {
	ok := 0.0
	if err == nil {
		ok = 1
	}
	m.checkOK.WithLabelValues(repo, string(kind)).Set(ok)
	m.checkTime.WithLabelValues(repo, string(kind)).Set(float64(end.Unix()))
}

func (m *metrics) deepVerifyDone(repo string, v *deepVerifyInfo) {
	ok := 0.0
	if v.OK {
		ok = 1
	}
	m.deepVerifyOK.WithLabelValues(repo).Set(ok)
	m.deepVerifyTime.WithLabelValues(repo).Set(float64(v.End.Unix()))
	m.deepVerifyFindings.WithLabelValues(repo).Set(float64(v.Findings))
}

func (m *metrics) windowDone(repo string, w Window, snapshots int) {
	complete := 0.0
	if w.Complete {
		complete = 1
	}
	m.windowComplete.WithLabelValues(repo).Set(complete)
	m.windowMissing.WithLabelValues(repo).Set(float64(w.Missing))
	m.snapshots.WithLabelValues(repo).Set(float64(snapshots))
}

func (m *metrics) erasures(c ErasureCounts) {
	m.erasuresPending.Set(float64(c.Pending))
	m.erasuresOverdue.Set(float64(c.Overdue))
	m.erasuresAtRisk.Set(float64(c.AtRisk))
	m.erasuresOldestAge.Set(c.OldestPendingSeconds)
}
