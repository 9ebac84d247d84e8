package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podToPod checks that a pod on a1 reaches pods on a1 and a2 directly,
// and that the backends see the client pod's own address.
func podToPod(t *testing.T) {
	ns := newNamespace(t)
	apply(t, ns, whoPod("near", "a1", nil))
	apply(t, ns, whoPod("far", "a2", nil))
	apply(t, ns, clientPod("client", "a1"))
	waitReady(t, ns, "near", "far", "client")
	src := podIP(t, ns, "client")
	for _, target := range []string{"near", "far"} {
		var got string
		eventually(t, 30*time.Second, func() error {
			var err error
			got, err = who(ns, "client", "http://"+podIP(t, ns, target)+":8080/cgi-bin/who")
			return err
		})
		if want := target + " " + src; got != want {
			t.Errorf("%s answered %q; want %q (the client pod's address, not masqueraded)", target, got, want)
		}
	}
}

func TestPodToPod(t *testing.T) { podToPod(t) }

func TestServiceAndDNS(t *testing.T) {
	ns := newNamespace(t)
	apply(t, ns, whoDeployment("web", 2))
	apply(t, ns, `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-headless}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: ext}
spec:
  type: ExternalName
  externalName: web.`+ns+`.svc.cluster.local
`)
	apply(t, ns, clientPod("client", "a1"))
	rollout(t, ns, "web")
	waitReady(t, ns, "client")

	t.Run("ClusterIP reaches both backends", func(t *testing.T) {
		ip := serviceIP(t, ns, "web")
		seen := map[string]bool{}
		eventually(t, 60*time.Second, func() error {
			out, err := who(ns, "client", "http://"+ip+"/cgi-bin/who")
			if err != nil {
				return err
			}
			seen[strings.Fields(out)[0]] = true
			if len(seen) < 2 {
				return fmt.Errorf("answered by %v so far", seen)
			}
			return nil
		})
	})
	t.Run("by name", func(t *testing.T) {
		for _, name := range []string{"web", "web." + ns, "web." + ns + ".svc.cluster.local"} {
			eventually(t, 30*time.Second, func() error {
				out, err := who(ns, "client", "http://"+name+"/cgi-bin/who")
				if err != nil {
					return fmt.Errorf("%s: %v: %s", name, err, out)
				}
				return nil
			})
		}
	})
	t.Run("resolv.conf", func(t *testing.T) {
		out, err := execIn(ns, "client", "cat", "/etc/resolv.conf")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"nameserver 10.43.0.10", "search " + ns + ".svc.cluster.local svc.cluster.local cluster.local", "options ndots:5"} {
			if !strings.Contains(out, want) {
				t.Errorf("resolv.conf lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("headless and SRV with nslookup", func(t *testing.T) {
		var ips []string
		for _, p := range podsOf(t, ns, "app=web") {
			ips = append(ips, p.Status.PodIP)
		}
		out, err := execIn(ns, "client", "nslookup", "web-headless."+ns+".svc.cluster.local")
		if err != nil {
			t.Fatalf("nslookup: %v\n%s", err, out)
		}
		for _, ip := range ips {
			if !strings.Contains(out, ip) {
				t.Errorf("headless answer lacks pod %s:\n%s", ip, out)
			}
		}
		out, err = execIn(ns, "client", "nslookup", "-type=srv", "_http._tcp.web."+ns+".svc.cluster.local")
		if err != nil || !strings.Contains(out, "80 web."+ns+".svc.cluster.local") {
			t.Errorf("SRV answer: %v\n%s", err, out)
		}
		out, err = execIn(ns, "client", "nslookup", "-type=cname", "ext."+ns+".svc.cluster.local")
		if err != nil || !strings.Contains(out, "canonical name = web."+ns+".svc.cluster.local") {
			t.Errorf("ExternalName answer: %v\n%s", err, out)
		}
		out, err = execIn(ns, "client", "nslookup", "nothing-here."+ns+".svc.cluster.local")
		if err == nil || !strings.Contains(out, "NXDOMAIN") {
			t.Errorf("a missing name: %v\n%s; want NXDOMAIN", err, out)
		}
	})
	t.Run("kubernetes.default.svc with the service account token", func(t *testing.T) {
		out, err := execIn(ns, "client", "k8s-whoami")
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if want := "system:serviceaccount:" + ns + ":default"; out != want {
			t.Errorf("the API server saw %q; want %q", out, want)
		}
	})
	t.Run("services/proxy and pods/proxy reach the backends", func(t *testing.T) {
		out := kubectl(t, "", "get", "--raw", "/api/v1/namespaces/"+ns+"/services/web:http/proxy/cgi-bin/who")
		if !strings.HasPrefix(out, "web-") {
			t.Errorf("services/proxy answered %q; want a web pod", out)
		}
		pod := podsOf(t, ns, "app=web")[0].Name
		out = kubectlWith(t, "/usr/lib/google-cloud-sdk/bin/kubectl.1.33", "", "get", "--raw", "/api/v1/namespaces/"+ns+"/pods/"+pod+":8080/proxy/cgi-bin/who")
		if !strings.HasPrefix(out, pod+" ") {
			t.Errorf("pods/proxy answered %q; want %s", out, pod)
		}
	})
	t.Run("kubectl 1.27 and 1.33 see the cluster DNS Service", func(t *testing.T) {
		for _, k := range []string{"/usr/lib/google-cloud-sdk/bin/kubectl.1.27", "/usr/lib/google-cloud-sdk/bin/kubectl.1.33"} {
			out := kubectlWith(t, k, "", "get", "service", "kube-dns", "-n", "kube-system")
			if !strings.Contains(out, "10.43.0.10") || !strings.Contains(out, "53/UDP,53/TCP") {
				t.Errorf("%s get service kube-dns:\n%s", k, out)
			}
		}
	})
}

func podsOf(t *testing.T, ns, selector string) []corev1.Pod {
	t.Helper()
	l, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func nodePortOf(t *testing.T, ns, name string) (nodePort, healthPort int32) {
	t.Helper()
	s, err := client.CoreV1().Services(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s.Spec.Ports[0].NodePort, s.Spec.HealthCheckNodePort
}

func TestNodePortLoadBalancerAndAffinity(t *testing.T) {
	ns := newNamespace(t)
	apply(t, ns, whoDeployment("web", 2))
	apply(t, ns, `apiVersion: v1
kind: Service
metadata: {name: np}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: lb}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 8081, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: sticky}
spec:
  type: NodePort
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`)
	rollout(t, ns, "web")

	t.Run("NodePort on every node", func(t *testing.T) {
		port, _ := nodePortOf(t, ns, "np")
		for _, n := range nodes() {
			url := fmt.Sprintf("http://%s:%d/cgi-bin/who", n.ip, port)
			eventually(t, 30*time.Second, func() error { _, err := httpGet(url); return err })
		}
	})
	t.Run("NodePort on localhost only where asked", func(t *testing.T) {
		port, _ := nodePortOf(t, ns, "np")
		url := fmt.Sprintf("http://127.0.0.1:%d/cgi-bin/who", port)
		eventually(t, 30*time.Second, func() error {
			out, err := inNetns(agents[0], "curl", "-s", "--max-time", "3", url)
			if err != nil {
				return fmt.Errorf("a1 (--nodeport-addresses with 127.0.0.0/8): %v %s", err, out)
			}
			return nil
		})
		if out, err := inNetns(agents[1], "curl", "-s", "--max-time", "3", url); err == nil {
			t.Errorf("a2 answered a NodePort on localhost without being asked: %s", out)
		}
	})
	t.Run("LoadBalancer ingress is the nodes and answers", func(t *testing.T) {
		var ingress []string
		eventually(t, 30*time.Second, func() error {
			s, err := client.CoreV1().Services(ns).Get(context.Background(), "lb", metav1.GetOptions{})
			if err != nil {
				return err
			}
			ingress = ingress[:0]
			for _, in := range s.Status.LoadBalancer.Ingress {
				ingress = append(ingress, in.IP)
			}
			if len(ingress) != len(nodes()) {
				return fmt.Errorf("ingress %v; want the %d nodes' addresses", ingress, len(nodes()))
			}
			return nil
		})
		for _, ip := range ingress {
			url := "http://" + net.JoinHostPort(ip, "8081") + "/cgi-bin/who"
			eventually(t, 30*time.Second, func() error { _, err := httpGet(url); return err })
		}
		out := kubectl(t, "", "get", "service", "lb", "-n", ns)
		if !strings.Contains(out, ingress[0]) {
			t.Errorf("kubectl get service does not show EXTERNAL-IP:\n%s", out)
		}
	})
	t.Run("session affinity sticks", func(t *testing.T) {
		port, _ := nodePortOf(t, ns, "sticky")
		url := fmt.Sprintf("http://%s:%d/cgi-bin/who", agents[0].ip, port)
		var first string
		eventually(t, 30*time.Second, func() error {
			out, err := httpGet(url)
			first = strings.Fields(out + " x")[0]
			return err
		})
		for i := 0; i < 10; i++ {
			out, err := httpGet(url)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Fields(out)[0]; got != first {
				t.Fatalf("request %d answered by %s; want %s every time", i, got, first)
			}
		}
	})
}

func TestExternalTrafficPolicyLocal(t *testing.T) {
	ns := newNamespace(t)
	apply(t, ns, whoPod("only", "a1", map[string]string{"app": "local"}))
	apply(t, ns, `apiVersion: v1
kind: Service
metadata: {name: local}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app: local}
  ports: [{port: 8082, targetPort: 8080}]
`)
	waitReady(t, ns, "only")
	port, health := nodePortOf(t, ns, "local")
	if health == 0 {
		t.Fatal("no healthCheckNodePort allocated")
	}
	var out string
	eventually(t, 30*time.Second, func() error {
		var err error
		out, err = httpGet(fmt.Sprintf("http://%s:%d/cgi-bin/who", agents[0].ip, port))
		return err
	})
	if want := "only " + clientIP; out != want+"\n" && strings.TrimSpace(out) != want {
		t.Errorf("backend saw %q; want %q (the client's own address)", out, want)
	}
	// The node without an endpoint does not forward.
	if out, err := httpGet(fmt.Sprintf("http://%s:%d/cgi-bin/who", agents[1].ip, port)); err == nil {
		t.Errorf("a node with no local endpoint answered: %q", out)
	}
	// Health check node port: 200 with a local endpoint, 503 without.
	for _, c := range []struct {
		n     *node
		local int
		ok    bool
	}{{agents[0], 1, true}, {agents[1], 0, false}} {
		url := fmt.Sprintf("http://%s:%d/healthz", c.n.ip, health)
		var body string
		eventually(t, 30*time.Second, func() error {
			var err error
			body, err = httpGet(url)
			if (err == nil) != c.ok {
				return fmt.Errorf("%s: %v %q", url, err, body)
			}
			return nil
		})
		var st struct {
			Service        struct{ Namespace, Name string }
			LocalEndpoints int `json:"localEndpoints"`
		}
		if err := json.Unmarshal([]byte(body), &st); err != nil || st.LocalEndpoints != c.local || st.Service.Name != "local" {
			t.Errorf("%s = %q (%v); want localEndpoints %d", url, body, err, c.local)
		}
	}
}

func TestScaleToZeroAndDelete(t *testing.T) {
	ns := newNamespace(t)
	apply(t, ns, whoDeployment("web", 2))
	apply(t, ns, `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`)
	apply(t, ns, clientPod("client", "a2"))
	rollout(t, ns, "web")
	waitReady(t, ns, "client")
	ip := serviceIP(t, ns, "web")
	port, _ := nodePortOf(t, ns, "web")
	eventually(t, 30*time.Second, func() error { _, err := who(ns, "client", "http://"+ip+"/"); return err })

	kubectl(t, "", "scale", "-n", ns, "deploy/web", "--replicas=0")
	eventually(t, 60*time.Second, func() error {
		start := time.Now()
		out, err := execIn(ns, "client", "timeout", "5", "wget", "-O", "/dev/null", "http://"+ip+"/")
		if err == nil || !strings.Contains(out, "refused") {
			return fmt.Errorf("with no endpoints: %v %q; want connection refused", err, out)
		}
		if d := time.Since(start); d > 2500*time.Millisecond {
			return fmt.Errorf("refused only after %v", d)
		}
		return nil
	})
	// Another node's proxy may still send new connections to the
	// terminating pods for their last second, as upstream does when no
	// ready endpoint is left; then it refuses.
	eventually(t, 30*time.Second, func() error {
		if _, err := httpGet(fmt.Sprintf("http://%s:%d/", agents[0].ip, port)); err == nil || !strings.Contains(err.Error(), "refused") {
			return fmt.Errorf("NodePort with no endpoints: %v; want connection refused", err)
		}
		return nil
	})

	kubectl(t, "", "scale", "-n", ns, "deploy/web", "--replicas=2")
	rollout(t, ns, "web")
	eventually(t, 30*time.Second, func() error { _, err := who(ns, "client", "http://"+ip+"/"); return err })

	kubectl(t, "", "delete", "service", "-n", ns, "web")
	for _, n := range nodes() {
		eventually(t, 30*time.Second, func() error {
			out, err := inNetns(n, "nft", "list", "table", "ip", "skiff-proxy")
			if err != nil {
				return fmt.Errorf("%s: %v: %s", n.name, err, out)
			}
			if strings.Contains(out, ip) || strings.Contains(out, strconv.Itoa(int(port))) {
				return fmt.Errorf("%s still has rules for %s / %d", n.name, ip, port)
			}
			return nil
		})
	}
}
