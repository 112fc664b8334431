/**
 * Named steps of storage work that tracing shows as child spans (manifest validation, say). The
 * image store takes any implementation: tracing's, or `noSpans` when there is none, so storage
 * itself knows nothing of tracing.
 */
export interface WorkSpans {
  span<T>(name: string, attributes: Record<string, string | number | boolean | undefined>, work: () => Promise<T>): Promise<T>;
}

export const noSpans: WorkSpans = {
  span: (_name, _attributes, work) => work(),
};
