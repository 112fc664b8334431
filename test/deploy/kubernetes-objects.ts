/**
 * The Kubernetes objects deploy/kubernetes holds, as far as the checks read them: not Kubernetes'
 * whole API, only the fields a check looks at, so that a misspelt field in a manifest reads as
 * missing here.
 */

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: unknown;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } };
}
export interface Probe {
  httpGet?: { path?: string; port: string | number };
}
export interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  fsGroup?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { drop?: string[] };
  seccompProfile?: { type?: string };
}
export interface Container {
  name: string;
  image?: string;
  args?: string[];
  command?: string[];
  env?: EnvVar[];
  ports?: Array<{ name?: string; containerPort: number }>;
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  volumeMounts?: Array<{ name: string; mountPath: string; subPath?: string }>;
  securityContext?: SecurityContext;
  lifecycle?: { preStop?: { exec?: { command?: string[] } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
export interface Volume {
  name: string;
  persistentVolumeClaim?: { claimName: string };
  configMap?: { name: string; items?: Array<{ key: string; path: string }> };
  emptyDir?: unknown;
}
export interface PodSpec {
  containers: Container[];
  volumes?: Volume[];
  securityContext?: SecurityContext;
  terminationGracePeriodSeconds?: number;
  enableServiceLinks?: boolean;
}
export interface DeploymentSpec {
  replicas?: number;
  strategy?: { type?: string };
  selector: { matchLabels: Record<string, string> };
  template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
}
export interface ServiceSpec {
  selector: Record<string, string>;
  ports: Array<{ name?: string; port: number; targetPort?: string | number }>;
}
export interface MonitorEndpoint {
  port: string;
  path?: string;
  relabelings?: Array<{ action?: string; sourceLabels?: string[]; targetLabel?: string; replacement?: string }>;
}
export interface MonitorSpec {
  selector: { matchLabels: Record<string, string> };
  endpoints?: MonitorEndpoint[];
  podMetricsEndpoints?: MonitorEndpoint[];
}

export function specOf<T>(object: KubeObject): T {
  return object.spec as T;
}

/** Whether a label selector picks these labels. An empty selector picks nothing here: one lost in a patch fails the checks instead of selecting everything. */
export function matches(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.keys(selector).length > 0 && Object.entries(selector).every(([name, value]) => labels?.[name] === value);
}

