{{- /* Alert rules (Prometheus rule-file groups); promtool checks them as rendered (test/kube/chart.test.ts). */}}
{{- define "vilna-mpc.alertRules" -}}
groups:
  - name: vilna-mpc
    rules:
      - alert: VilnaMpcSigningFailures
        expr: sum by (namespace, pod, key_id) (rate(vilna_mpc_signatures_total{outcome="error"}[5m])) > 0
        for: 5m
        labels: { severity: critical }
        annotations:
          summary: "Signatures of key {{ "{{ $labels.key_id }}" }} are failing at {{ "{{ $labels.pod }}" }}"
      - alert: VilnaMpcAbortWithCulprit
        expr: sum by (protocol, culprit) (increase(vilna_mpc_aborts_total{culprit!="unattributed"}[15m])) > 0
        labels: { severity: critical }
        annotations:
          summary: "A {{ "{{ $labels.protocol }}" }} session aborted naming party {{ "{{ $labels.culprit }}" }} as the culprit"
      # Aborts that name nobody, repeated for one signer set within an hour: a party of that set
      # deviates where it cannot be attributed (README "What is and is not attributable"). The
      # node quarantines the set at 3 in 10 minutes and signs with another; an hour also catches a
      # party that aborts just below that rate. (A new series' first abort is not an increase.)
      - alert: VilnaMpcUnattributedAborts
        expr: sum by (namespace, pod, key_id, signers) (increase(vilna_mpc_unattributed_aborts_total[1h])) >= 2
        labels: { severity: critical }
        annotations:
          summary: "Signer set {{ "{{ $labels.signers }}" }} of key {{ "{{ $labels.key_id }}" }} keeps aborting with nobody named at {{ "{{ $labels.pod }}" }}: one of its parties is suspect"
      # Presign prepares over their caller's budget: a party (with a valid binding) keeps asking
      # for nonces it never starts. It only churns its own budget; nobody else's signing is
      # affected, but the party is either broken or probing (README "Peer authentication").
      - alert: VilnaMpcPresignPrepareRefusals
        expr: sum by (namespace, pod, reason) (increase(vilna_mpc_presign_prepare_refusals_total[15m])) > 10
        labels: { severity: warning }
        annotations:
          summary: "{{ "{{ $labels.pod }}" }} drops presign nonces ({{ "{{ $labels.reason }}" }}): a party prepares without starting"
      # Requests answered 429 because their caller kept being refused (README "Audit log"): a
      # client or party sending what this node refuses, 30 a minute and more. The caller is in
      # the counted request.throttled entries of the node's audit log.
      - alert: VilnaMpcCallersThrottled
        expr: sum by (namespace, pod, listener) (increase(vilna_mpc_throttled_requests_total[15m])) > 0
        labels: { severity: warning }
        annotations:
          summary: "{{ "{{ $labels.pod }}" }} throttles a caller on its {{ "{{ $labels.listener }}" }} listener that keeps being refused"
      # Requests that failed over to another signer set because a co-signer stopped answering
      # mid-request (README "Running a node", signing). Each was still signed, and a co-signer
      # that failed a call is left out for a while, so a party that is simply down costs one
      # failover and then shows as VilnaMpcPartyDown. Failovers that keep coming mean a party that
      # answers the reachability probe but not the signing calls (stuck HSM, overload). The
      # first failover of a series is not an increase (prom-client creates it at 1): this fires
      # from the second within half an hour.
      - alert: VilnaMpcSignerFailovers
        expr: sum by (namespace, pod, key_id) (increase(vilna_mpc_signer_failovers_total[30m])) > 0
        labels: { severity: warning }
        annotations:
          summary: "Signing of key {{ "{{ $labels.key_id }}" }} at {{ "{{ $labels.pod }}" }} keeps failing over to another signer set: a co-signer stops answering mid-request"
      - alert: VilnaMpcPresignaturePoolEmpty
        expr: max by (namespace, pod, key_id) (vilna_mpc_presignatures_available) == 0
        for: 10m
        labels: { severity: warning }
        annotations:
          summary: "No presignatures ready for key {{ "{{ $labels.key_id }}" }} at {{ "{{ $labels.pod }}" }}: signing takes the slow path"
      - alert: VilnaMpcHsmErrors
        expr: sum by (namespace, pod, operation, code) (increase(vilna_mpc_hsm_errors_total[5m])) > 0
        labels: { severity: critical }
        annotations:
          summary: "HSM {{ "{{ $labels.operation }}" }} failing with {{ "{{ $labels.code }}" }} at {{ "{{ $labels.pod }}" }}"
      - alert: VilnaMpcPartyDown
        expr: min by (namespace, pod, peer) (vilna_mpc_peer_reachable) == 0
        for: 2m
        labels: { severity: critical }
        annotations:
          summary: "{{ "{{ $labels.pod }}" }} cannot reach party {{ "{{ $labels.peer }}" }}"
      - alert: VilnaMpcRotationOverdue
        expr: max by (ceremony) (vilna_mpc_operator_seconds_since_rotation) > {{ mul .Values.monitoring.rotationOverdueHours 3600 }}
        labels: { severity: warning }
        annotations:
          summary: "Ceremony {{ "{{ $labels.ceremony }}" }} has not been rotated for over {{ .Values.monitoring.rotationOverdueHours }} hours"
{{- end -}}
