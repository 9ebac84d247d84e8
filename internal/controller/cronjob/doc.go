// Package cronjob is the CronJob controller: it creates a Job for each time
// a CronJob's schedule fires.
//
// Schedules are standard five-field cron lines (or descriptors such as
// @hourly) read in spec.timeZone, or in the controller's local zone when it
// is unset. On each sync the controller looks for the most recent scheduled
// time since status.lastScheduleTime (or the CronJob's creation) that has
// not run: after downtime only that one time is caught up, and more than 100
// missed times raise a TooManyMissedTimes warning. A time older than
// spec.startingDeadlineSeconds is skipped. concurrencyPolicy Forbid skips a
// time while a Job is active, Replace deletes the active Jobs first.
//
// A Job is named <cronjob>-<scheduled time in Unix minutes> and carries the
// batch.kubernetes.io/cronjob-scheduled-timestamp annotation, so a time is
// never run twice. Finished Jobs beyond successfulJobsHistoryLimit and
// failedJobsHistoryLimit are deleted, oldest first. The sync requeues itself
// for the next scheduled time on the injected clock.
//
// New builds a Controller and starts nothing; Run adds the informer
// handlers, waits for the caches and runs the workers until its context
// ends, returning after every worker stopped.
package cronjob
