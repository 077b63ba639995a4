package gen

import (
	"encoding/binary"
	"fmt"
	"unicode/utf16"
)

// OutlookMessage is what an Outlook .msg file written by Msg holds.
type OutlookMessage struct {
	Subject, Body           string
	SenderName, SenderEmail string
	Headers                 string // transport headers (RFC 5322)
	Recipients              []Recipient
	Attachments             []Attachment
}

// Recipient is a recipient of an OutlookMessage.
type Recipient struct{ Name, Email string }

// Attachment is a file attached to an OutlookMessage.
type Attachment struct {
	Name string
	Data []byte
}

// Msg writes an Outlook message file: a compound file of MAPI property
// streams (__substg1.0_PPPPTTTT), strings in UTF-16.
func Msg(m OutlookMessage) []byte {
	str := func(prefix []string, prop uint16, s string) Stream {
		return Stream{Path: append(prefix, fmt.Sprintf("__substg1.0_%04X001F", prop)), Data: utf16Bytes(s)}
	}
	streams := []Stream{
		{Path: []string{"__properties_version1.0"}, Data: make([]byte, 32)},
		str(nil, 0x001A, "IPM.Note"),
		str(nil, 0x0037, m.Subject),
		str(nil, 0x1000, m.Body),
		str(nil, 0x0C1A, m.SenderName),
		str(nil, 0x0C1F, m.SenderEmail),
		str(nil, 0x0065, m.SenderEmail),
	}
	if m.Headers != "" {
		streams = append(streams, str(nil, 0x007D, m.Headers))
	}
	for i, r := range m.Recipients {
		p := []string{fmt.Sprintf("__recip_version1.0_#%08X", i)}
		streams = append(streams, Stream{Path: append(p, "__properties_version1.0"), Data: make([]byte, 8)},
			str(p, 0x3001, r.Name), str(p, 0x3003, r.Email), str(p, 0x39FE, r.Email))
	}
	for i, a := range m.Attachments {
		p := []string{fmt.Sprintf("__attach_version1.0_#%08X", i)}
		streams = append(streams, Stream{Path: append(p, "__properties_version1.0"), Data: make([]byte, 8)},
			str(p, 0x3707, a.Name), Stream{Path: append(p, "__substg1.0_37010102"), Data: a.Data})
	}
	return CompoundFile(streams)
}

func utf16Bytes(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 0, 2*len(u))
	for _, c := range u {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return b
}

// outlookMsgs are messages saved from Outlook: one from a subject (found
// in its recipient stream and its attachment only), one from the
// subject's decoy.
func (g *generator) outlookMsgs() error {
	si := 1 % len(g.subjects)
	s, d := g.subjects[si], g.decoys[si]
	staff := g.staff[0]
	msg := func(p *person, email, phone string) OutlookMessage {
		return OutlookMessage{
			Subject: "Offertförfrågan", Body: "Hej!\r\nVi vill ha en offert på ett nytt tak.\r\nMvh " + p.First + "\r\n",
			SenderName: staff.name(), SenderEmail: staff.Email,
			Headers:     "From: " + staff.name() + " <" + staff.Email + ">\r\nSubject: Offertförfrågan\r\n\r\n",
			Recipients:  []Recipient{{Name: p.name(), Email: email}},
			Attachments: []Attachment{{Name: "kontakt.txt", Data: []byte("Telefon: " + phone + "\r\n")}},
		}
	}
	f := g.newFile("mejl/sparat/offertforfragan-1.msg", "msg")
	f.write(string(Msg(msg(s, emailForm(s.Email, 1), phoneForm(s.Phone, 4)))))
	f.close(si)
	f = g.newFile("mejl/sparat/offertforfragan-2.msg", "msg")
	f.write(string(Msg(msg(d, decoyEmails(s)[2], phoneForm(d.Phone, 4)))))
	f.close(Decoy)
	return nil
}
