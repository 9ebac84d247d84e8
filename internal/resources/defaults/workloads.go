package defaults

import (
	"math"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// DefaultRevisionHistoryLimit is how many old revisions workloads keep.
const DefaultRevisionHistoryLimit int32 = 10

func defaultDeployment(d *appsv1.Deployment) {
	setDefault(&d.Spec.Replicas, 1)
	s := &d.Spec.Strategy
	if s.Type == "" {
		s.Type = appsv1.RollingUpdateDeploymentStrategyType
	}
	if s.Type == appsv1.RollingUpdateDeploymentStrategyType {
		if s.RollingUpdate == nil {
			s.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		setDefault(&s.RollingUpdate.MaxUnavailable, intstr.FromString("25%"))
		setDefault(&s.RollingUpdate.MaxSurge, intstr.FromString("25%"))
	}
	setDefault(&d.Spec.RevisionHistoryLimit, DefaultRevisionHistoryLimit)
	setDefault(&d.Spec.ProgressDeadlineSeconds, 600)
	defaultPodTemplateSpec(&d.Spec.Template)
}

func defaultReplicaSet(rs *appsv1.ReplicaSet) {
	setDefault(&rs.Spec.Replicas, 1)
	defaultPodTemplateSpec(&rs.Spec.Template)
}

func defaultStatefulSet(ss *appsv1.StatefulSet) {
	spec := &ss.Spec
	if spec.PodManagementPolicy == "" {
		spec.PodManagementPolicy = appsv1.OrderedReadyPodManagement
	}
	if spec.UpdateStrategy.Type == "" {
		spec.UpdateStrategy.Type = appsv1.RollingUpdateStatefulSetStrategyType
	}
	if spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType {
		if spec.UpdateStrategy.RollingUpdate == nil {
			spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{}
		}
		setDefault(&spec.UpdateStrategy.RollingUpdate.Partition, 0)
	}
	if spec.PersistentVolumeClaimRetentionPolicy == nil {
		spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{}
	}
	rp := spec.PersistentVolumeClaimRetentionPolicy
	if rp.WhenDeleted == "" {
		rp.WhenDeleted = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if rp.WhenScaled == "" {
		rp.WhenScaled = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	setDefault(&spec.Replicas, 1)
	setDefault(&spec.RevisionHistoryLimit, DefaultRevisionHistoryLimit)
	for i := range spec.VolumeClaimTemplates {
		defaultPersistentVolumeClaim(&spec.VolumeClaimTemplates[i])
	}
	defaultPodTemplateSpec(&spec.Template)
}

func defaultDaemonSet(ds *appsv1.DaemonSet) {
	s := &ds.Spec.UpdateStrategy
	if s.Type == "" {
		s.Type = appsv1.RollingUpdateDaemonSetStrategyType
	}
	if s.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		if s.RollingUpdate == nil {
			s.RollingUpdate = &appsv1.RollingUpdateDaemonSet{}
		}
		setDefault(&s.RollingUpdate.MaxUnavailable, intstr.FromInt32(1))
		setDefault(&s.RollingUpdate.MaxSurge, intstr.FromInt32(0))
	}
	setDefault(&ds.Spec.RevisionHistoryLimit, DefaultRevisionHistoryLimit)
	defaultPodTemplateSpec(&ds.Spec.Template)
}

// DefaultBackoffLimit is a Job's default number of retries.
const DefaultBackoffLimit int32 = 6

func defaultJob(job *batchv1.Job) {
	spec := &job.Spec
	if spec.Completions == nil && spec.Parallelism == nil {
		spec.Completions = ptrTo[int32](1)
		spec.Parallelism = ptrTo[int32](1)
	}
	setDefault(&spec.Parallelism, 1)
	if spec.BackoffLimit == nil {
		if spec.BackoffLimitPerIndex != nil {
			spec.BackoffLimit = ptrTo[int32](math.MaxInt32)
		} else {
			spec.BackoffLimit = ptrTo(DefaultBackoffLimit)
		}
	}
	if len(job.Labels) == 0 {
		job.Labels = copyMap(spec.Template.Labels)
	}
	setDefault(&spec.CompletionMode, batchv1.NonIndexedCompletion)
	setDefault(&spec.Suspend, false)
	if spec.PodFailurePolicy != nil {
		setDefault(&spec.PodReplacementPolicy, batchv1.Failed)
		for i := range spec.PodFailurePolicy.Rules {
			for j := range spec.PodFailurePolicy.Rules[i].OnPodConditions {
				c := &spec.PodFailurePolicy.Rules[i].OnPodConditions[j]
				if c.Status == "" {
					c.Status = corev1.ConditionTrue
				}
			}
		}
	} else {
		setDefault(&spec.PodReplacementPolicy, batchv1.TerminatingOrFailed)
	}
	defaultPodTemplateSpec(&spec.Template)
}

func defaultCronJob(cj *batchv1.CronJob) {
	spec := &cj.Spec
	if spec.ConcurrencyPolicy == "" {
		spec.ConcurrencyPolicy = batchv1.AllowConcurrent
	}
	setDefault(&spec.Suspend, false)
	setDefault(&spec.SuccessfulJobsHistoryLimit, 3)
	setDefault(&spec.FailedJobsHistoryLimit, 1)
	defaultPodTemplateSpec(&spec.JobTemplate.Spec.Template)
}

// Labels the API server puts on a Job's pods so that its generated
// selector matches them.
const (
	JobNameLabel             = batchv1.JobNameLabel       // batch.kubernetes.io/job-name
	LegacyJobNameLabel       = "job-name"                 // kept for old clients
	ControllerUIDLabel       = batchv1.ControllerUidLabel // batch.kubernetes.io/controller-uid
	LegacyControllerUIDLabel = "controller-uid"           // kept for old clients
)

// GenerateJobSelector gives a Job the selector the API server generates on
// create unless spec.manualSelector is true: the pod template is labelled
// with the job's name and UID (both the batch.kubernetes.io/ and the legacy
// unprefixed keys; labels the user already set are kept and validation
// rejects any conflict), and the selector matches the controller-uid label.
// The job's own labels default to the template's when it has none. The Job
// must already have its name and UID.
func GenerateJobSelector(job *batchv1.Job) {
	if job.Spec.ManualSelector != nil && *job.Spec.ManualSelector {
		return
	}
	t := &job.Spec.Template
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	uid := string(job.UID)
	for key, value := range map[string]string{
		LegacyJobNameLabel:       job.Name,
		JobNameLabel:             job.Name,
		LegacyControllerUIDLabel: uid,
		ControllerUIDLabel:       uid,
	} {
		if _, ok := t.Labels[key]; !ok {
			t.Labels[key] = value
		}
	}
	if job.Spec.Selector == nil {
		job.Spec.Selector = &metav1.LabelSelector{}
	}
	if job.Spec.Selector.MatchLabels == nil {
		job.Spec.Selector.MatchLabels = map[string]string{}
	}
	if _, ok := job.Spec.Selector.MatchLabels[ControllerUIDLabel]; !ok {
		job.Spec.Selector.MatchLabels[ControllerUIDLabel] = uid
	}
	if len(job.Labels) == 0 {
		job.Labels = copyMap(t.Labels)
	}
}
