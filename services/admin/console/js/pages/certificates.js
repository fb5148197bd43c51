// Certificates: the brokers' TLS settings (TagoDeploy's Certificates page:
// Enable Custom Certificate, CA Certificate, Server Certificate, Server Key,
// Enable MTLS). The key is write-only: the API only says whether one is
// stored, and the field is cleared after every save. Brokers use the new
// certificate for new handshakes within a second; connected devices stay.
import * as api from '../api.js';
import { h, pageHeader, banner, loading, field, showError, clearFieldErrors, setBusy, toast, fmtTime } from '../ui.js';

const MTLS = [
  ['none', 'Off: devices are not asked for a certificate'],
  ['optional', 'Optional: a certificate is verified against the CA when a device sends one'],
  ['required', 'Required: the handshake fails without a certificate signed by the CA'],
];

function pemArea(name, testid, placeholder) {
  return h('textarea', { name, class: 'input mono', rows: 6, spellcheck: 'false', autocomplete: 'off', placeholder, testid });
}

export function page(main) {
  const bannerEl = h('div', {});
  const current = h('div', { class: 'card card-pad', testid: 'cert-current' });
  let alive = true;

  const enabled = h('input', { type: 'checkbox', name: 'enabled', testid: 'cert-enabled' });
  const ca = pemArea('ca_certificate', 'cert-ca', '-----BEGIN CERTIFICATE-----');
  const cert = pemArea('server_certificate', 'cert-server', '-----BEGIN CERTIFICATE-----\n(the server certificate, then any intermediates)');
  const key = pemArea('server_key', 'cert-key', '-----BEGIN PRIVATE KEY-----');
  const mtls = h('select', { name: 'mtls', class: 'input', testid: 'cert-mtls' },
    MTLS.map(([v, label]) => h('option', { value: v }, label)));
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'cert-save' }, 'Save certificates');
  const form = h('form', { class: 'form card card-pad form-wide', novalidate: true, testid: 'cert-form' },
    h('div', { class: 'field', 'data-field': 'enabled' },
      h('span', { class: 'field-label' }, 'Enable Custom Certificate'),
      h('label', { class: 'check' }, enabled,
        h('span', { class: 'check-text' }, h('span', { class: 'check-name' }, 'Serve these certificates on the TLS port'),
          h('span', { class: 'check-desc' }, 'Off: each broker serves the certificate files it was started with.'))),
      h('p', { class: 'field-error', role: 'alert', testid: 'error-enabled', hidden: true })),
    field({ label: 'CA Certificate', name: 'ca_certificate', control: ca, optional: true,
      hint: 'PEM. Client certificates are verified against it, and the server certificate must chain to it.' }),
    field({ label: 'Server Certificate', name: 'server_certificate', control: cert, hint: 'PEM, the server certificate first.' }),
    field({ label: 'Server Key', name: 'server_key', control: key,
      hint: 'PEM, unencrypted. Write-only: it is never shown again; leave empty to keep the stored key.' }),
    field({ label: 'Enable MTLS', name: 'mtls', control: mtls }),
    h('div', { class: 'form-actions' }, submit));

  main.append(
    pageHeader({ title: 'Certificates', subtitle: 'TLS for MQTT on port 8883. Brokers use a change for new connections within a second; connected devices stay connected.' }),
    bannerEl, current, form);

  function show(doc) {
    enabled.checked = !!doc.enabled;
    ca.value = doc.ca_certificate || '';
    cert.value = doc.server_certificate || '';
    key.value = '';
    key.placeholder = doc.server_key_set ? 'A key is stored. Paste a new one to replace it.' : '-----BEGIN PRIVATE KEY-----';
    mtls.value = doc.mtls || 'none';
    const c = doc.certificate;
    current.replaceChildren(c
      ? h('dl', { class: 'facts' },
        h('dt', {}, 'Status'), h('dd', { testid: 'cert-status' }, doc.enabled ? 'In use' : 'Stored, not in use'),
        h('dt', {}, 'Subject'), h('dd', { class: 'mono', testid: 'cert-subject' }, c.subject),
        h('dt', {}, 'Issuer'), h('dd', { class: 'mono' }, c.issuer),
        h('dt', {}, 'Serial'), h('dd', { class: 'mono', testid: 'cert-serial' }, c.serial),
        h('dt', {}, 'Valid until'), h('dd', { testid: 'cert-not-after' }, fmtTime(c.not_after)),
        h('dt', {}, 'Fingerprint'), h('dd', { class: 'mono', testid: 'cert-fingerprint' }, c.fingerprint),
        h('dt', {}, 'Server key'), h('dd', { testid: 'cert-key-set' }, doc.server_key_set ? 'Stored (write-only)' : 'None'))
      : h('p', { testid: 'cert-status' }, 'No custom certificate: brokers serve the certificate files they were started with.'));
  }

  form.hidden = true;
  const spin = loading('Loading certificates…');
  form.before(spin);
  api.certificates.get().then((doc) => {
    if (!alive) return;
    spin.remove();
    show(doc);
    form.hidden = false;
  }).catch((err) => {
    if (!alive) return;
    spin.remove();
    banner(bannerEl, err);
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors(form);
    banner(bannerEl, null);
    const body = { enabled: enabled.checked, mtls: mtls.value, ca_certificate: ca.value.trim() ? ca.value : '',
      server_certificate: cert.value };
    if (key.value.trim()) body.server_key = key.value;
    setBusy(submit, true, 'Saving…');
    try {
      const doc = await api.certificates.put(body);
      if (!alive) return;
      setBusy(submit, false);
      show(doc);
      toast('Certificates saved. New connections use them within a second.');
    } catch (err) {
      if (!alive) return;
      setBusy(submit, false);
      showError(form, bannerEl, err);
    } finally {
      body.server_key = '';
    }
  });

  return () => { alive = false; };
}
