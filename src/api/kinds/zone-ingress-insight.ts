// ZoneIngressInsight (read-only, written by the control plane).
import { insightDescriptor } from './insight.js';

export const zoneIngressInsightDescriptor = insightDescriptor('ZoneIngressInsight', 'Global', 'zone-ingress-insights', 'zone-ingress-insight', 'zone-ingress-insights');
