{{- define "vilna-mpc.labels" -}}
app.kubernetes.io/name: vilna-mpc
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
mpc.vilna.io/region: {{ .Values.region }}
{{- end -}}

{{- define "vilna-mpc.operatorName" -}}
{{ .Release.Name }}-operator
{{- end -}}

{{- define "vilna-mpc.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}
