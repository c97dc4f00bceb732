import type { AuditEntryView, MessageView, Participant, TicketView } from '../tickets/model.js';

/** What an export says of an attachment: enough to find and check the file, never its bytes. */
export interface AttachmentReference {
  id: string;
  file_name: string;
  content_type: string;
  size: number | null;
  sha256: string | null;
}

export type ExportedMessage = Omit<MessageView, 'attachments'> & { attachments: AttachmentReference[] };

/** One line of the jsonl export: the ticket as GET /v1/tickets/{id} shows it (less its queue placement), with its brand's name. */
export interface ExportedTicket extends TicketView {
  brand_name: string | null;
  messages: ExportedMessage[];
  participants: Participant[];
  audit_trail: AuditEntryView[];
}
