// Layout and routes. The control plane's index (`GET /`) says its mode, which decides what the
// navigation offers (zones exist on a global control plane).
import { createContext, useContext } from 'react';
import { Link, NavLink, Route, Routes } from 'react-router';
import { get, useApi, type Index } from './api';
import { ErrorBox, Loading } from './components';
import { Overview } from './pages/Overview';
import { Meshes } from './pages/Meshes';
import { Dataplanes } from './pages/Dataplanes';
import { DataplaneDetail } from './pages/DataplaneDetail';
import { ZoneProxies } from './pages/ZoneProxies';
import { Policies } from './pages/Policies';
import { PolicyDetail } from './pages/PolicyDetail';
import { Zones } from './pages/Zones';

const IndexContext = createContext<Index | undefined>(undefined);
export const useIndex = () => useContext(IndexContext)!;

export function App() {
  const index = useApi(() => get<Index>('/'), []);
  return (
    <div className="layout">
      <nav className="sidebar">
        <Link to="/" className="brand">
          Skein
        </Link>
        {index.data && (
          <div className="cp-info" data-testid="cp-info">
            {index.data.mode}
            {index.data.zone ? ` · ${index.data.zone}` : ''} · v{index.data.version}
          </div>
        )}
        <NavLink to="/" end>
          Overview
        </NavLink>
        <NavLink to="/meshes" end>
          Meshes
        </NavLink>
        <NavLink to="/dataplanes">Data plane proxies</NavLink>
        <NavLink to="/zone-proxies">Zone proxies</NavLink>
        <NavLink to="/policies">Policies</NavLink>
        <NavLink to="/zones">Zones</NavLink>
      </nav>
      <main>
        {index.loading && !index.data && <Loading what="the control plane" />}
        {index.error !== undefined && <ErrorBox error={index.error} what="the control plane's index" onRetry={index.reload} />}
        {index.data && (
          <IndexContext.Provider value={index.data}>
            <Routes>
              <Route path="/" element={<Overview />} />
              <Route path="/meshes" element={<Meshes />} />
              <Route path="/dataplanes" element={<Dataplanes />} />
              <Route path="/meshes/:mesh/dataplanes/:name" element={<DataplaneDetail />} />
              <Route path="/zone-proxies" element={<ZoneProxies />} />
              <Route path="/policies" element={<Policies />} />
              <Route path="/meshes/:mesh/policies/:path/:name" element={<PolicyDetail />} />
              <Route path="/zones" element={<Zones />} />
              <Route
                path="*"
                element={
                  <div className="empty">
                    There is no such page. <Link to="/">Back to the overview</Link>
                  </div>
                }
              />
            </Routes>
          </IndexContext.Provider>
        )}
      </main>
    </div>
  );
}
