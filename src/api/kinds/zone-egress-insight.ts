// ZoneEgressInsight (read-only, written by the control plane).
import { insightDescriptor } from './insight.js';

export const zoneEgressInsightDescriptor = insightDescriptor('ZoneEgressInsight', 'Global', 'zoneegressinsights', 'zoneegressinsight', 'zoneegressinsights');
