// DataplaneInsight (read-only, written by the control plane).
import { insightDescriptor } from './insight.js';

export const dataplaneInsightDescriptor = insightDescriptor('DataplaneInsight', 'Mesh', 'dataplane-insights', 'dataplane-insight', 'dataplane-insights');
