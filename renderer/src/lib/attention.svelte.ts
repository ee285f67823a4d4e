/**
 * Getting the operator's attention when a customer waits: the window title, a desktop notification
 * (the Notification API in both shells) and an optional sound. Settings live in this browser's storage.
 */
import type { ApprovalView } from '../../../preload/contract.ts'
import { bidiSafe } from './text.ts'

const SOUND_KEY = 'taleus.sound'
const NOTIFY_KEY = 'taleus.notify'

function readFlag(key: string, fallback: boolean): boolean {
  try {
    const value = localStorage.getItem(key)
    return value == null ? fallback : value === '1'
  } catch {
    return fallback
  }
}

function writeFlag(key: string, on: boolean): void {
  try {
    localStorage.setItem(key, on ? '1' : '0')
  } catch {
    // storage denied: the setting lasts for this page only
  }
}

/** What the browser says about notifications: `unsupported` when there is no Notification API. */
export type NotifyPermission = NotificationPermission | 'unsupported'

function permissionNow(): NotifyPermission {
  return typeof Notification === 'undefined' ? 'unsupported' : Notification.permission
}

/** The title for `waiting` pending approvals. */
export function titleFor(waiting: number): string {
  return waiting > 0
    ? `(${waiting}) Taleus — ${waiting === 1 ? 'a customer is' : `${waiting} customers are`} waiting for your approval`
    : 'Taleus'
}

/** The operator's attention settings and the ways to get it. */
export class Attention {
  sound = $state(readFlag(SOUND_KEY, false))
  notify = $state(readFlag(NOTIFY_KEY, true))
  permission = $state<NotifyPermission>(permissionNow())
  #audio: AudioContext | undefined

  /** Turns the sound on or off. */
  setSound(on: boolean): void {
    this.sound = on
    writeFlag(SOUND_KEY, on)
    // Browsers start audio only after a user gesture: this click is one.
    if (on) this.beep()
  }

  /** Turns desktop notifications on (asking the browser's permission; call from a click) or off. */
  async setNotify(on: boolean): Promise<void> {
    this.notify = on
    writeFlag(NOTIFY_KEY, on)
    if (on && typeof Notification !== 'undefined' && Notification.permission === 'default') {
      try {
        this.permission = await Notification.requestPermission()
      } catch {
        this.permission = permissionNow()
      }
    } else {
      this.permission = permissionNow()
    }
  }

  /** Tells the operator a customer is waiting; `onopen` runs when they click the notification. */
  announce(approval: ApprovalView, name: string | undefined, onopen: () => void): void {
    if (this.sound) this.beep()
    this.permission = permissionNow()
    if (!this.notify || this.permission !== 'granted') return
    const seconds = Math.max(0, Math.round((approval.deadline - Date.now()) / 1000))
    const who = bidiSafe(name ?? 'A customer')
    const token = bidiSafe(approval.tokenLabel || 'a token')
    try {
      const n = new Notification('Taleus: a customer is waiting for your approval', {
        body: `${who} scanned ${token}. Decide within ${seconds} s or they are refused.`,
        tag: approval.sessionId
      })
      n.onclick = () => {
        window.focus()
        onopen()
        n.close()
      }
    } catch {
      // some platforms only allow notifications from a service worker: the title and badge remain
    }
  }

  /** A short two-tone chime through Web Audio (no media file, so the CSP stays closed). */
  beep(): void {
    try {
      this.#audio ??= new AudioContext()
      const ctx = this.#audio
      const now = ctx.currentTime
      for (const [i, freq] of [880, 660].entries()) {
        const osc = ctx.createOscillator()
        const gain = ctx.createGain()
        osc.frequency.value = freq
        gain.gain.setValueAtTime(0.0001, now + i * 0.18)
        gain.gain.exponentialRampToValueAtTime(0.2, now + i * 0.18 + 0.02)
        gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.18 + 0.16)
        osc.connect(gain).connect(ctx.destination)
        osc.start(now + i * 0.18)
        osc.stop(now + i * 0.18 + 0.17)
      }
    } catch {
      // no audio device: silence
    }
  }
}
