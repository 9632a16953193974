// MeshInsight (read-only, written by the control plane).
import { insightDescriptor } from './insight.js';

export const meshInsightDescriptor = insightDescriptor('MeshInsight', 'Global', 'mesh-insights', 'mesh-insight', 'mesh-insights');
