// ZoneInsight (read-only, written by the control plane).
import { insightDescriptor } from './insight.js';

export const zoneInsightDescriptor = insightDescriptor('ZoneInsight', 'Global', 'zone-insights', 'zone-insight', 'zone-insights');
