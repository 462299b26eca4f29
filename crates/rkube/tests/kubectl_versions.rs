//! End-to-end: resources served in two versions (HPAs as autoscaling v1 and v2, Events as core
//! v1 and events.k8s.io/v1) are one set of objects, whichever version a client speaks.

use rkube_testkit::TestServer;

fn server() -> TestServer {
    TestServer::start(std::path::Path::new(env!("CARGO_BIN_EXE_rkube")))
        .expect("starting rkube server")
}

const HPA_V1: &str = "apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 5
  targetCPUUtilizationPercentage: 60
";

const HPA_V2: &str = "apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  maxReplicas: 4
  metrics:
  - type: Resource
    resource: {name: memory, target: {type: AverageValue, averageValue: 100Mi}}
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
";

#[test]
fn hpa_written_in_one_version_reads_in_the_other() {
    let s = server();
    let out = s.kubectl_stdin(&["create", "-f", "-"], Some(HPA_V1));
    assert!(out.success, "{}", out.all());
    let out = s.kubectl_stdin(&["create", "-f", "-"], Some(HPA_V2));
    assert!(out.success, "{}", out.all());

    // The v1 object read as v2: its CPU target is a Resource metric.
    let v2 = s.kubectl(&[
        "get",
        "horizontalpodautoscalers.v2.autoscaling",
        "web",
        "-o",
        "jsonpath={.apiVersion} {.spec.metrics[0].resource.name} {.spec.metrics[0].resource.target.averageUtilization} {.spec.minReplicas}",
    ]);
    assert_eq!(v2.stdout, "autoscaling/v2 cpu 60 2", "{}", v2.all());

    // The v2 object read as v1: CPU in targetCPUUtilizationPercentage, memory in the annotation.
    let v1 = s.kubectl(&[
        "get",
        "horizontalpodautoscalers.v1.autoscaling",
        "api",
        "-o",
        "jsonpath={.apiVersion} {.spec.targetCPUUtilizationPercentage} {.metadata.annotations.autoscaling\\.alpha\\.kubernetes\\.io/metrics}",
    ]);
    assert_eq!(
        v1.stdout,
        r#"autoscaling/v1 70 [{"type":"Resource","resource":{"name":"memory","targetAverageValue":"100Mi"}}]"#,
        "{}",
        v1.all()
    );

    // A v1 update (label) keeps the v2-only metric.
    let out = s.kubectl(&[
        "label",
        "horizontalpodautoscalers.v1.autoscaling",
        "api",
        "tier=x",
    ]);
    assert!(out.success, "{}", out.all());
    let metrics = s.kubectl(&[
        "get",
        "hpa",
        "api",
        "-o",
        "jsonpath={.metadata.labels.tier} {.spec.metrics[*].resource.name}",
    ]);
    assert_eq!(metrics.stdout, "x memory cpu", "{}", metrics.all());

    // Both versions list both objects.
    for res in [
        "horizontalpodautoscalers.v1.autoscaling",
        "horizontalpodautoscalers.v2.autoscaling",
    ] {
        let names = s.kubectl(&["get", res, "-o", "name"]);
        assert_eq!(names.stdout.lines().count(), 2, "{res}: {}", names.all());
    }
}

#[test]
fn core_events_are_events_k8s_io_events() {
    let s = server();
    let event = r#"{"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "web.1", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"},
        "reason": "Started", "message": "Started container web", "type": "Normal",
        "source": {"component": "kubelet"}, "count": 1,
        "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:00Z"}"#;
    let out = s.kubectl_stdin(&["create", "-f", "-"], Some(event));
    assert!(out.success, "{}", out.all());
    let got = s.kubectl(&[
        "get",
        "events.v1.events.k8s.io",
        "web.1",
        "-o",
        "jsonpath={.apiVersion} {.regarding.name} {.note} {.deprecatedCount}",
    ]);
    assert_eq!(
        got.stdout,
        "events.k8s.io/v1 web Started container web 1",
        "{}",
        got.all()
    );

    let new = r#"{"apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "web.2", "namespace": "default"},
        "eventTime": "2026-01-01T00:00:01.000000Z", "reportingController": "rkube.io/test",
        "reportingInstance": "test-1", "action": "Pulling", "reason": "Pulling",
        "regarding": {"kind": "Pod", "name": "web", "namespace": "default"},
        "note": "Pulling image", "type": "Normal"}"#;
    let out = s.kubectl_stdin(&["create", "-f", "-"], Some(new));
    assert!(out.success, "{}", out.all());
    let core = s.kubectl(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=web",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name}={.message}/{.reportingComponent};{end}",
    ]);
    assert_eq!(
        core.stdout,
        "web.1=Started container web/;web.2=Pulling image/rkube.io/test;",
        "{}",
        core.all()
    );
}
